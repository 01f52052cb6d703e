"""The alert rule book (streams/ALERTS.md): the settings of every rule (``RuleSet``), a
city's defaults overridden per unit and per office (``RuleBook``), loaded from JSON by
``hailong alerts rules load``. The rules themselves are in ``streams/alert_rules.py``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# The normal quantiles of two-sided 95 % and 99 % intervals.
Z95 = 1.959963984540054
Z99 = 2.5758293035489004


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    repeat_hours: int = Field(
        24, ge=0, description="remind of an unacknowledged alert this often (0: never)"
    )


class CredibleDrop(_Rule):
    window_hours: int = Field(8, gt=0, description="hours with ratings in the window")
    max_window_hours: int = Field(120, gt=0, description="how far back a window stretches")
    baseline_days: int = Field(30, gt=0)
    min_window: int = Field(30, gt=0, description="ratings in the window")
    min_baseline: int = Field(100, gt=0, description="ratings in the baseline")
    min_hours: int = Field(3, gt=0, description="consecutive evaluations before raising")
    # 99 % bounds: with 95 % ones, some 45 evaluations a week raised 0.065 false alarms per
    # office-week on figure 9's simulated communes; 99 % gave 0.006, about an office
    # hour later (bench/RESULTS.md).
    z: float = Field(Z99, gt=0, description="of the bounds: 2.576 for 99 %, 1.96 for 95 %")


class NegativeShare(_Rule):
    last_n: int = Field(30, gt=0)
    threshold: float = Field(0.5, gt=0, le=1)
    min_count: int = Field(20, gt=0)


class IndexBelow(_Rule):
    threshold: float = Field(0.6, gt=0, le=1)
    window_hours: int = Field(8, gt=0)
    min_count: int = Field(20, gt=0)
    min_hours: int = Field(4, gt=0)


class VolumeDrop(_Rule):
    window_hours: int = Field(8, gt=0)
    baseline_days: int = Field(28, gt=0)
    ratio: float = Field(0.3, gt=0, lt=1)
    min_expected: float = Field(20.0, gt=0)


class SilentDevice(_Rule):
    minutes: int = Field(60, gt=0, description="silent in office hours at least this long")
    # A kiosk of a small commune is often silent for an hour: silence counts when the
    # device usually sends this many events in as long (or it never sent anything). A
    # busy kiosk has hundreds of gaps between presses a week, each a chance: at 10,
    # figure 9 saw 0.036 false alarms per office-week; at 15 (chance e^-15), none.
    min_expected: float = Field(15.0, gt=0, description="events usually sent in the silence")


class SilentOffice(_Rule):
    max_window_hours: int = Field(18, gt=0, description="office hours a window stretches")
    baseline_days: int = Field(28, gt=0)
    # No rating where 10 are expected happens by chance e^-10 = 0.005 % of the time.
    min_expected: float = Field(10.0, gt=0, description="ratings usually seen in the window")


class MisuseSurge(_Rule):
    window_hours: int = Field(8, gt=0)
    share: float = Field(0.3, gt=0, le=1, description="of presses flagged misuse")
    min_count: int = Field(20, gt=0, description="misuse presses")


class VolumeSurge(_Rule):
    window_hours: int = Field(8, gt=0)
    baseline_days: int = Field(28, gt=0)
    ratio: float = Field(3.0, gt=1, description="times the office's usual volume")
    peer_ratio: float = Field(2.0, gt=1, description="times the city's median ratio")
    min_count: int = Field(60, gt=0)


class HeldSurge(_Rule):
    window_hours: int = Field(24, gt=0)
    min_count: int = Field(20, gt=0, description="held or dead-lettered events of a device")


class NewDevices(_Rule):
    window_hours: int = Field(24, gt=0)
    new_days: int = Field(7, gt=0, description="a device registered this recently is new")
    share: float = Field(0.5, gt=0, le=1)
    min_count: int = Field(30, gt=0)


class KioskGap(_Rule):
    days: int = Field(14, gt=0, description="the trailing window of both signals")
    gap: float = Field(0.15, gt=0, lt=1, description="kiosk's lower bound minus anonymous upper")
    min_kiosk: int = Field(100, gt=0)
    min_anonymous: int = Field(50, gt=0)
    min_hours: int = Field(24, gt=0, description="consecutive evaluations before raising")


class RuleSet(BaseModel):
    """The rules of one office."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    credible_drop: CredibleDrop = CredibleDrop()
    negative_share: NegativeShare = NegativeShare()
    index_below: IndexBelow = IndexBelow()
    volume_drop: VolumeDrop = VolumeDrop()
    silent_device: SilentDevice = SilentDevice()
    silent_office: SilentOffice = SilentOffice()
    misuse_surge: MisuseSurge = MisuseSurge()
    volume_surge: VolumeSurge = VolumeSurge()
    held_surge: HeldSurge = HeldSurge()
    new_devices: NewDevices = NewDevices()
    kiosk_gap: KioskGap = KioskGap()


class RuleBook(BaseModel):
    """A city's rules: defaults, then overrides per unit, then per office (each override
    names only what it changes, e.g. ``{"index_below": {"threshold": 0.7}}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    defaults: RuleSet = RuleSet()
    units: dict[str, dict[str, dict[str, Any]]] = {}
    offices: dict[str, dict[str, dict[str, Any]]] = {}

    def for_office(self, office_id: str, unit_code: str = "") -> RuleSet:
        """The office's rules: the defaults with its unit's and its own overrides."""
        merged = self.defaults.model_dump()
        for layer in (self.units.get(unit_code, {}), self.offices.get(office_id, {})):
            for rule, fields in layer.items():
                if rule not in merged:
                    raise ValueError(f"no alert rule {rule!r}")
                merged[rule] = {**merged[rule], **fields}
        return RuleSet.model_validate(merged)
