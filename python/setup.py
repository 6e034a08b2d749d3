"""The package's version is the extension's: default_version in
../undoredo.control (the checkout), or the version recorded in PKG-INFO
when built from an sdist, which carries no undoredo.control."""
import os
import re

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))


def version():
    control = os.path.join(HERE, "..", "undoredo.control")
    if os.path.exists(control):
        with open(control) as f:
            m = re.search(r"^default_version\s*=\s*'([^']+)'", f.read(), re.M)
        if m:
            return m.group(1)
    pkg_info = os.path.join(HERE, "PKG-INFO")
    if os.path.exists(pkg_info):
        with open(pkg_info) as f:
            m = re.search(r"^Version:\s*(\S+)", f.read(), re.M)
        if m:
            return m.group(1)
    raise RuntimeError("no version: neither ../undoredo.control nor PKG-INFO found")


setup(version=version())
