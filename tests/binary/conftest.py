"""Fixtures for the binary-analysis tests: the sample program compiled by the system gcc during the run."""

from __future__ import annotations

import pytest
from binary_helpers import SAMPLE_SOURCE, SampleBuild, require_tools, run_tool


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleBuild:
    require_tools("gcc", "strip")
    directory = tmp_path_factory.mktemp("sample")
    build = SampleBuild(
        directory=directory,
        object=directory / "sample.o",
        pie=directory / "sample",
        stripped_pie=directory / "sample.stripped",
        nopie_object=directory / "sample-nopie.o",
        nopie=directory / "sample-nopie",
        shared=directory / "libsample.so",
    )
    run_tool("gcc", "-O1", "-c", SAMPLE_SOURCE, "-o", build.object)
    run_tool("gcc", "-O1", "-pie", "-fPIE", SAMPLE_SOURCE, "-o", build.pie)
    run_tool("strip", "-o", build.stripped_pie, build.pie)
    run_tool("gcc", "-O1", "-fno-pie", "-c", SAMPLE_SOURCE, "-o", build.nopie_object)
    run_tool("gcc", "-O1", "-no-pie", build.nopie_object, "-o", build.nopie)
    run_tool("gcc", "-O1", "-shared", "-fPIC", SAMPLE_SOURCE, "-o", build.shared)
    return build
