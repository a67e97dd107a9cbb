"""A function file run directly: python3 own_main.py."""

import sluice_function


def handle(event, config):
    return {"doubled": event["n"] * 2}


if __name__ == "__main__":
    sluice_function.main(handle)
