// Package python holds the Python SDK, sluice_function.py, for the tools
// that copy it into a user's project (`sluice function init`). The file
// itself is the SDK: one stdlib-only module, run as
// `python3 sluice_function.py module:handler` or imported by a function
// file; see README.md.
package python

import _ "embed"

// SDK is the content of sluice_function.py.
//
//go:embed sluice_function.py
var SDK []byte

// SDKFile is the SDK's file name, which function files import it by.
const SDKFile = "sluice_function.py"
