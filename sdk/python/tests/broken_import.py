import json

raise ImportError("no module named requests (pretend)")
