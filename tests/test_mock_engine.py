"""What the offline plan's mock engine spares the SDK, and that it leaves the SDK as it found it."""

from __future__ import annotations

import pytest
from pulumi.runtime import resource as sdk_registration

from automation.mock_engine import RecordingMonitor, run_program
from automation.stack_files import read_stack_config
from tests.conftest import PROJECT, ROOT


def test_registrations_carry_no_stack_trace_and_the_sdk_gets_its_capture_back(monkeypatch):
    frames_per_registration = []
    register = RecordingMonitor.RegisterResource

    def counting_register(monitor, request):
        frames_per_registration.append(len(request.stackTrace.frames))
        return register(monitor, request)

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", counting_register)
    sdk_capture = sdk_registration._get_stack_trace
    source = read_stack_config("dev")
    run = run_program(str(ROOT / "__main__.py"), source.engine_config, project=PROJECT, stack="dev", region="eu-west-1")
    assert len(frames_per_registration) == len(run.resources) + 1  # and the root stack, registered by set_mocks
    assert set(frames_per_registration) == {0}
    assert sdk_registration._get_stack_trace is sdk_capture  # `pulumi up` in the same process still reports source positions


def test_a_failing_program_also_gives_the_sdk_its_capture_back(tmp_path):
    program = tmp_path / "__main__.py"
    program.write_text("raise RuntimeError('the program failed')\n")
    sdk_capture = sdk_registration._get_stack_trace
    with pytest.raises(RuntimeError, match="the program failed"):
        run_program(str(program), {}, project=PROJECT, stack="dev", region="eu-west-1")
    assert sdk_registration._get_stack_trace is sdk_capture
