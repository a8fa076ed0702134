"""A client of Streamlit's websocket protocol: one visitor's session without a browser (benchmarks/load.py).

Not run on its own. Used as

    async with Session("http://127.0.0.1:8501") as s:
        await s.visit("predictions", "page=1")       # the page at /predictions?page=1, run to its end
        seconds = await s.step("pred_page", +1)      # the number input one step up, as a click on "+" does
        seconds = await s.click("review_fine")       # a button (a trigger value)
        s.query_string, s.texts("toast")             # what the page shows now

What it speaks (streamlit 1.67, `streamlit run` serves it with Starlette + uvicorn): a websocket on
/_stcore/stream with the subprotocol "streamlit"; binary protobufs both ways. The browser sends
BackMsg.rerun_script (a ClientState: the query string, the page by url path (`page_name`, as a first load of
/predictions does) or by `page_script_hash` (later reruns of the same page), and WidgetStates); the server
answers with ForwardMsgs: new_session when a run starts, one delta per element (addressed by delta_path),
page_info_changed when the script writes st.query_params, and script_finished at the end. Only what changed
is sent in widget_states: the server keeps the other widgets' values from the previous run. No
cached_message_hashes are sent, so every element comes in full (no ref_hash). No XSRF token is sent: the
server reads it only for the login cookie, and this client does not log in.

A widget is found by its user key: its id is "$$ID-<hash>-<key>" (streamlit.runtime.state.common).
An exception element, a compile error, an unknown page or no answer in time raise (AppError, TimeoutError),
as does a key that the page does not have (WidgetNotFoundError).
"""
from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect

STREAM_PATH = "/_stcore/stream"
SUBPROTOCOL = "streamlit"
MAX_MESSAGE_BYTES = 200 * 1024 * 1024  # server.maxMessageSize's default: a page's largest ForwardMsg


class AppError(RuntimeError):
    """The app's answer to a rerun was an error: an exception drawn, a compile error, a page not found."""


class WidgetNotFoundError(LookupError):
    """The page the last run drew has no widget with that user key (or not one that can be used so)."""


def user_key(element_id: str) -> str | None:
    """The user key at the end of a widget id ("$$ID-<hash>-<key>"); None for a widget without one."""
    parts = element_id.split("-", maxsplit=2)
    return parts[2] if len(parts) == 3 and parts[2] != "None" else None


class Session:
    """One visitor: a websocket to the server, the page its last run drew, the query string it shows."""

    def __init__(self, url: str, timeout_s: float = 60.0):
        parts = urlsplit(url)
        self.ws_url = f"ws://{parts.netloc}{parts.path.rstrip('/')}{STREAM_PATH}"
        self.timeout_s = timeout_s
        self.query_string = ""
        self.page_script_hash = ""  # the page the last run drew (the navigation message), for its next reruns
        self.page_name = ""  # its url path, for messages
        self.elements: dict[tuple[int, ...], object] = {}  # delta_path -> Element of the last run
        self._ws = None

    async def __aenter__(self) -> Session:
        self._ws = await connect(self.ws_url, subprotocols=[SUBPROTOCOL], max_size=MAX_MESSAGE_BYTES,
                                 proxy=None, open_timeout=self.timeout_s)
        return self

    async def __aexit__(self, *exc) -> None:
        await self._ws.close()

    async def visit(self, url_path: str, query_string: str = "") -> float:
        """Open a page by its url path ("" for the default page) with a query string; seconds to its end."""
        self.page_name, self.query_string, self.page_script_hash = url_path, query_string, ""
        return await self.rerun()

    async def step(self, key: str, steps: int = 1) -> float:
        """Move a number input or a one-value slider by `steps` of its step; seconds until the rerun ends."""
        kind, widget = self.widget(key, ("number_input", "slider"))
        state = WidgetState(id=widget.id)
        if kind == "number_input":
            current = widget.value if widget.HasField("value") else widget.default
            value = min(max(current + steps * widget.step, widget.min), widget.max)
            if widget.data_type == NumberInput.INT:
                state.int_value = int(round(value))  # as the browser sends an int number input
            else:
                state.double_value = value
        else:
            if len(widget.value) != 1:
                raise WidgetNotFoundError(f"the slider {key!r} holds a range of {len(widget.value)} values; step "
                                          "moves a one-value slider only")
            value = min(max(widget.value[0] + steps * widget.step, widget.min), widget.max)
            state.double_array_value.data.append(round(value, 12))  # 0.9 - 0.01 is 0.8899999999999999
        return await self.rerun([state])

    async def click(self, key: str) -> float:
        """Press a button (a trigger value, true for this one rerun); seconds until the rerun ends."""
        _, widget = self.widget(key, ("button",))
        return await self.rerun([WidgetState(id=widget.id, trigger_value=True)])

    def widget(self, key: str, kinds: tuple[str, ...]) -> tuple[str, object]:
        """(element kind, its proto) of the widget with user key `key` on the page the last run drew."""
        found = {}
        for element in self.elements.values():
            kind = element.WhichOneof("type")
            proto = getattr(element, kind) if kind else None
            element_id = getattr(proto, "id", "") if proto is not None else ""
            if isinstance(element_id, str) and element_id.startswith("$$ID-") and user_key(element_id):
                found[user_key(element_id)] = (kind, proto)
        if key not in found:
            raise WidgetNotFoundError(f"no widget with key {key!r} on the page {self.page_name or '(default)'!r}; "
                                      f"its widgets' keys: {', '.join(sorted(found)) or 'none'}")
        kind, proto = found[key]
        if kind not in kinds:
            raise WidgetNotFoundError(f"the widget {key!r} is a {kind}, not a {' or '.join(kinds)}")
        if proto.disabled:
            raise WidgetNotFoundError(f"the widget {key!r} is disabled on the page {self.page_name!r}: the server "
                                      "would ignore a change")
        return kind, proto

    def texts(self, kind: str) -> list[str]:
        """The text of the last run's elements of one kind: "toast", "markdown", "alert", "exception"..."""
        out = []
        for element in self.elements.values():
            if element.WhichOneof("type") == kind:
                proto = getattr(element, kind)
                out.append(next((getattr(proto, f) for f in ("body", "message", "label") if hasattr(proto, f)), ""))
        return out

    async def rerun(self, widget_states: list[WidgetState] | None = None) -> float:
        """Send a rerun of the current page with these widget states; read until its script has finished.

        Returns the seconds from sending to the script_finished of that rerun (a run the server ended early
        for another rerun is not the end). Raises AppError when that run drew an exception.
        """
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        if self.page_script_hash:
            state.page_script_hash = self.page_script_hash
        else:
            state.page_name = self.page_name
        state.widget_states.widgets.extend(widget_states or [])
        start = time.monotonic()
        await self._ws.send(msg.SerializeToString())
        try:
            await asyncio.wait_for(self._read_until_finished(), self.timeout_s)
        except TimeoutError:
            raise TimeoutError(f"the page {self.page_name!r} did not finish its run within {self.timeout_s:.0f} s"
                               ) from None
        seconds = time.monotonic() - start
        errors = [e.type + ": " + e.message for e in self._protos("exception") if not e.is_warning]
        if errors:
            raise AppError(f"the page {self.page_name!r} ({self.query_string}) drew an exception: {errors[0][:300]}")
        return seconds

    def _protos(self, kind: str) -> list:
        return [getattr(e, kind) for e in self.elements.values() if e.WhichOneof("type") == kind]

    async def _read_until_finished(self) -> None:
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await self._ws.recv())
            kind = msg.WhichOneof("type")
            if kind == "new_session":  # a run starts: its elements replace the last run's
                self.elements = {}
            elif kind == "navigation":  # st.navigation chose the page: its hash, not the entry script's
                self.page_script_hash = msg.navigation.page_script_hash
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self.elements[tuple(msg.metadata.delta_path)] = msg.delta.new_element
            elif kind == "page_info_changed":
                self.query_string = msg.page_info_changed.query_string
            elif kind == "page_not_found":
                raise AppError(f"the app has no page {msg.page_not_found.page_name or self.page_name!r}")
            elif kind == "script_finished" and msg.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                raise AppError(f"the page {self.page_name!r} did not compile (see the server's log)")
            elif kind == "script_finished" and msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                return
