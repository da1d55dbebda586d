"""The mock runtime the offline plan runs the SDK in (an event loop, a fresh root stack, the mocks), shared by
the plan's mock engine and the benchmark's registration floor (bench/registration_floor.py), which must run
the SDK exactly as the plan does.

Imports only the SDK: the benchmark's floor may not load the project's own modules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pulumi
from pulumi.runtime import resource as sdk_registration
from pulumi.runtime.proto import source_pb2


class _InlineExecutor(ThreadPoolExecutor):
    """Runs the SDK's run_in_executor work on the calling thread, so only one event loop exists
    (the workaround pulumi's own mock tests use: pulumi/pulumi#7663)."""

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to the caller through the future
            future.set_exception(error)
        return future


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


@contextmanager
def mock_runtime(mocks: pulumi.runtime.Mocks, monitor: Any, *, project: str, stack: str) -> Iterator[None]:
    """A fresh event loop and root stack for one run of `mocks` behind `monitor` (a MockMonitor), the loop
    closed afterwards."""
    # On every registration the SDK walks the whole Python stack, each frame's source line included
    # (traceback.extract_stack in _get_stack_trace, pulumi 3.272.0 pulumi/runtime/resource.py:741, called by
    # read_resource at :833 and :837 and by register_resource at :1160), to tell the engine where the
    # resource was declared: 0.15-0.2 s of a prod plan. The mock monitor never reads sourcePosition or
    # stackTrace (MockMonitor.RegisterResource, pulumi/runtime/mocks.py:308-334), so the run hands the SDK
    # the empty trace it sends itself when it finds no user frame (resource.py:770). Only this run is
    # affected; the SDK's own function is put back.
    capture_stack_trace = sdk_registration._get_stack_trace
    sdk_registration._get_stack_trace = _no_stack_trace
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        loop.set_default_executor(_InlineExecutor())
        # set_mocks creates the root Stack resource only when none is set (pulumi/runtime/mocks.py), and an
        # earlier run in this thread left its own: a second run in one process would parent its resources
        # to the first run's stack.
        pulumi.runtime.settings.ROOT.set(None)
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
        yield
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        sdk_registration._get_stack_trace = capture_stack_trace
