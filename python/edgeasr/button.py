"""Push-to-talk buttons: one interface, four sources.

The pipeline asks :meth:`Button.pressed` once per 20 ms audio frame, so every source answers
at once, without blocking:

- :class:`GpioButton`: a GPIO line through libgpiod (python ``gpiod`` >= 2, ``python3-gpiod``
  on Yocto), e.g. the DK board's user button;
- :class:`EvdevButton`: a key of a Linux input device (``evdev``), e.g. a USB foot switch or a
  keyboard key;
- :class:`FileButton`: pressed while a file exists (``touch``/``rm``): for development and tests
  on a machine without buttons, and for other programs that want to trigger listening;
- :class:`SignalButton`: SIGUSR1 presses, SIGUSR2 releases.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

log = logging.getLogger(__name__)


class ButtonError(RuntimeError):
    """The button cannot be opened (missing library, device or line)."""


class Button:
    """Base: ``pressed()`` is the button's state now."""

    name = "button"

    def pressed(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release the device."""


class FileButton(Button):
    name = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def pressed(self) -> bool:
        return self.path.exists()


class SignalButton(Button):
    """SIGUSR1 = press, SIGUSR2 = release (``kill -USR1 <pid>``). Create it in the main thread."""

    name = "signal"

    def __init__(self) -> None:
        self._down = False
        self._old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGUSR1,
                                                                   signal.SIGUSR2)}

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._down = signum == signal.SIGUSR1

    def pressed(self) -> bool:
        return self._down

    def close(self) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)


class GpioButton(Button):
    """A GPIO input line; ``active_low`` for a button that pulls the line to ground."""

    name = "gpio"

    def __init__(self, chip: str, line: int, active_low: bool = True) -> None:
        try:
            import gpiod
            from gpiod.line import Bias, Direction, Value
        except ImportError as exc:
            raise ButtonError("a GPIO button needs libgpiod's Python binding "
                              "(pip install gpiod, or python3-gpiod on the board)") from exc
        settings = gpiod.LineSettings(direction=Direction.INPUT, active_low=active_low,
                                      bias=Bias.PULL_UP if active_low else Bias.AS_IS)
        try:
            self._request = gpiod.request_lines(chip, consumer="edgeasr-ptt",
                                                config={line: settings})
        except OSError as exc:
            raise ButtonError(f"GPIO {chip} line {line}: {exc.strerror or exc}") from exc
        self._line, self._active = line, Value.ACTIVE

    def pressed(self) -> bool:
        return bool(self._request.get_value(self._line) == self._active)

    def close(self) -> None:
        self._request.release()


class EvdevButton(Button):
    """A key of an input device, e.g. ``/dev/input/by-id/usb-…-event-kbd`` and ``KEY_F13``."""

    name = "evdev"

    def __init__(self, device: str | Path, key: str) -> None:
        try:
            import evdev
        except ImportError as exc:
            raise ButtonError("an input-device button needs python-evdev (pip install evdev)"
                              ) from exc
        code = evdev.ecodes.ecodes.get(key)
        if code is None:
            raise ButtonError(f"unknown key {key!r}: expected a name like KEY_SPACE or BTN_0")
        try:
            self._dev = evdev.InputDevice(str(device))
        except OSError as exc:
            raise ButtonError(f"input device {device}: {exc.strerror or exc}") from exc
        self._code = code

    def pressed(self) -> bool:
        return self._code in self._dev.active_keys()  # EVIOCGKEY: the state now, no events

    def close(self) -> None:
        self._dev.close()


class ButtonConfig(BaseModel):
    """``listen.button`` in the service file (push_to_talk mode)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["gpio", "evdev", "file", "signal"]
    chip: str = "/dev/gpiochip0"  # gpio
    line: Annotated[int, Field(ge=0)] | None = None  # gpio: line offset on the chip
    active_low: bool = True  # gpio: pressed pulls the line low
    device: Path | None = None  # evdev: /dev/input/eventN (by-id links are stable)
    key: str = "KEY_SPACE"  # evdev
    path: Path | None = None  # file: pressed while this file exists

    @model_validator(mode="after")
    def _needs(self) -> ButtonConfig:
        need = {"gpio": "line", "evdev": "device", "file": "path"}.get(self.type)
        if need is not None and getattr(self, need) is None:
            raise ValueError(f"button type {self.type!r} needs '{need}'")
        return self


def make_button(cfg: ButtonConfig) -> Button:
    if cfg.type == "gpio":
        assert cfg.line is not None
        return GpioButton(cfg.chip, cfg.line, cfg.active_low)
    if cfg.type == "evdev":
        assert cfg.device is not None
        return EvdevButton(cfg.device, cfg.key)
    if cfg.type == "file":
        assert cfg.path is not None
        return FileButton(cfg.path)
    return SignalButton()
