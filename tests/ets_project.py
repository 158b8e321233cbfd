"""Builds a small ETS 6 project file (``.knxproj``) for the import tests.

A ``.knxproj`` is a ZIP archive: ``knx_master.xml`` (KNX master data: function types, space
usages, manufacturers), ``P-XXXX.signature``, the project folder ``P-XXXX/`` with
``project.xml`` (project information) and ``0.xml`` (topology, building structure with
functions, group addresses), and one ``M-XXXX/Hardware.xml`` per manufacturer. A protected
ETS 6 project puts ``project.xml`` and ``0.xml`` into ``P-XXXX.zip``, AES-encrypted with a
key derived from the project password (PBKDF2-SHA256, 65536 rounds, salt
``21.project.ets.knx.org``, password as UTF-16-LE, base64 of the 32-byte key).

The content is written here from the ETS schema (namespace ``http://knx.org/xml/project/21``),
so the tests parse a real archive with the real ``xknxproject`` parser. The building:

- Ground floor / Kitchen: "Kitchen light" (switchable light: switch + status feedback)
- Ground floor / Living Room: "Ceiling light" (dimmable: switch, brightness, relative dimming),
  "Wall light" (switchable), "Blinds" (sun protection: up/down, stop, position, slats)
- First floor / Kitchen: a second kitchen (the spoken names must tell them apart)
- First floor / Bedroom 2: "Heating" (setpoint + measured room temperature)
- First floor / Büro: "Ventilator" (custom function, name says fan)
- First floor / Bathroom: "Mirror light" whose group address has no DPT (cannot be mapped)
- First floor / Storage: a custom function nobody can classify, and a light on the kitchen
  light's group address (each group address can drive one function only; both reported)
- Group addresses outside any function (weather station) and with a DPT xknx does not know
- A push button in the topology that is placed in no room
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

NS = "http://knx.org/xml/project/21"
PID = "P-0ED6"  # project id; every element id is prefixed with "P-0ED6-0_"
MFR = "M-0083"


@dataclass
class Ga:
    address: str  # 3-level
    name: str
    dpt: str | None  # "DPST-1-1", "DPT-1", or None (no DPT set in ETS)

    @property
    def raw(self) -> int:
        main, middle, sub = (int(p) for p in self.address.split("/"))
        return (main << 11) | (middle << 8) | sub


@dataclass
class Function:
    name: str
    type: str  # FT-n
    refs: list[tuple[Ga, str]]  # (group address, ETS role or "")


@dataclass
class Space:
    name: str
    type: str  # Building | Floor | Room | ...
    children: list[Space] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    devices: list[int] = field(default_factory=list)  # device numbers (1.1.n)
    usage: str | None = None


FUNCTION_TYPES = {
    "FT-0": "Custom",
    "FT-1": "Switchable light",
    "FT-6": "Dimmable light",
    "FT-7": "Sun protection",
    "FT-9": "Heating (floor)",
}

DEVICES = {  # 1.1.n: (name, product)
    1: ("Switch actuator kitchen", "P-1"),
    2: ("Dimming actuator", "P-2"),
    3: ("Blind actuator", "P-3"),
    4: ("Heating actuator", "P-4"),
    5: ("Push button hall", "P-5"),
}
PRODUCTS = {
    "P-1": "Switch actuator 4-fold",
    "P-2": "Universal dimmer 2-fold",
    "P-3": "Blind actuator 4-fold",
    "P-4": "Heating actuator 6-fold",
    "P-5": "Push button 4-fold",
}


def demo_project() -> tuple[str, list[Ga], Space]:
    g = {
        "k_sw": Ga("1/1/1", "Kitchen light switch", "DPST-1-1"),
        "k_st": Ga("1/1/2", "Kitchen light status", "DPST-1-1"),
        "l_sw": Ga("1/2/1", "Living ceiling light switch", "DPST-1-1"),
        "l_dim": Ga("1/2/2", "Living ceiling light dimming", "DPST-3-7"),
        "l_br": Ga("1/2/3", "Living ceiling light brightness", "DPST-5-1"),
        "l_w": Ga("1/2/5", "Living wall light", "DPT-1"),  # main type only
        "b_ud": Ga("2/2/1", "Living blinds up/down", "DPST-1-8"),
        "b_st": Ga("2/2/2", "Living blinds stop", "DPST-1-17"),
        "b_pos": Ga("2/2/3", "Living blinds position", "DPST-5-1"),
        "b_slat": Ga("2/2/4", "Living blinds slat angle", "DPST-5-1"),
        "h_set": Ga("3/3/1", "Bedroom setpoint", "DPST-9-1"),
        "h_act": Ga("3/3/2", "Bedroom actual temperature", "DPST-9-1"),
        "f_sw": Ga("4/4/1", "Office ventilator", "DPST-1-1"),
        "m_sw": Ga("1/5/1", "Bathroom mirror light", None),
        "x_odd": Ga("6/0/1", "Storage something", "DPST-1-1"),
        "k2_sw": Ga("1/7/1", "Tea kitchen light", "DPST-1-1"),
        "w_wind": Ga("5/0/1", "Weather station wind speed", "DPST-9-5"),
        "w_odd": Ga("5/0/2", "Weather station vendor data", "DPST-999-1"),
    }
    building = Space("Test House", "Building", children=[
        Space("Ground floor", "Floor", children=[
            Space("Kitchen", "Room", usage="SU-5", devices=[1], functions=[
                Function("Kitchen light", "FT-1",
                         [(g["k_sw"], "SwitchOnOff"), (g["k_st"], "InfoOnOff")]),
            ]),
            Space("Living Room", "Room", devices=[2, 3], functions=[
                Function("Ceiling light", "FT-6", [(g["l_sw"], "SwitchOnOff"),
                                                   (g["l_dim"], "DimmingControl"),
                                                   (g["l_br"], "DimmingValue")]),
                Function("Living room wall light", "FT-1", [(g["l_w"], "")]),
                Function("Blinds", "FT-7", [(g["b_ud"], "MoveUpDown"),
                                            (g["b_st"], "StopStepUpDown"),
                                            (g["b_pos"], ""), (g["b_slat"], "")]),
            ]),
        ]),
        Space("First floor", "Floor", children=[
            Space("Kitchen", "Room", functions=[
                Function("Light", "FT-1", [(g["k2_sw"], "SwitchOnOff")]),
            ]),
            Space("Bedroom 2", "Room", devices=[4], functions=[
                Function("Heating", "FT-9", [(g["h_set"], ""), (g["h_act"], "TempRoom")]),
            ]),
            Space("Büro", "Room", functions=[
                Function("Ventilator", "FT-0", [(g["f_sw"], "")]),
            ]),
            Space("Bathroom", "Room", functions=[
                Function("Mirror light", "FT-1", [(g["m_sw"], "SwitchOnOff")]),
            ]),
            Space("Storage", "Room", functions=[
                Function("Gadget", "FT-0", [(g["x_odd"], "")]),
                # wired in parallel with the kitchen light: its group address is taken
                Function("Storage light", "FT-1", [(g["k_sw"], "SwitchOnOff")]),
            ]),
        ]),
    ])
    return "Test House", list(g.values()), building


def _pid(local: str) -> str:
    return f"{PID}-0_{local}"


def _knx(body: str) -> str:
    # The namespace must be on the second line: xknxproject reads the schema version there.
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<KNX xmlns="{NS}" CreatedBy="ETS6" '
            f'ToolVersion="6.2.7302.0">\n{body}\n</KNX>\n')


def master_xml() -> str:
    fts = "\n".join(f'      <FunctionType Id="{i}" Number="{i[3:]}" Text="{t}" />'
                    for i, t in FUNCTION_TYPES.items())
    return _knx(f"""  <MasterData Version="0" Signature="AA==">
    <Manufacturers>
      <Manufacturer Id="{MFR}" Name="MDT technologies" />
    </Manufacturers>
    <SpaceUsages>
      <SpaceUsage Id="SU-5" Number="5" Text="Kitchen" />
    </SpaceUsages>
    <ProductLanguages>
      <Language Identifier="en-US" />
      <Language Identifier="de-DE" />
    </ProductLanguages>
    <FunctionTypes>
{fts}
    </FunctionTypes>
  </MasterData>""")


def hardware_xml() -> str:
    hw = "\n".join(
        f'        <Hardware Id="{MFR}_H-{p}" Name={quoteattr(name)}>\n'
        f'          <Products><Product Id="{MFR}_H-{p}_{p}" Text={quoteattr(name)} '
        f'OrderNumber="ORD-{p}" /></Products>\n        </Hardware>'
        for p, name in PRODUCTS.items())
    return _knx(f"""  <ManufacturerData>
    <Manufacturer RefId="{MFR}">
      <Hardware>
{hw}
      </Hardware>
    </Manufacturer>
  </ManufacturerData>""")


def project_xml(name: str) -> str:
    return _knx(f"""  <Project Id="{PID}">
    <ProjectInformation Name={quoteattr(name)} GroupAddressStyle="ThreeLevel"
      LastModified="2026-01-01T00:00:00Z" Guid="5a3c2b1e-0000-4000-8000-000000000001" />
  </Project>""")


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def puid(self) -> int:
        self.n += 1
        return self.n


def _space_xml(space: Space, ids: _Ids, fn_ids: dict[int, str], depth: int) -> str:
    pad = "  " * depth
    usage = f' Usage="{space.usage}"' if space.usage else ""
    sid = ids.puid()
    out = [f'{pad}<Space Id="{_pid(f"BP-{sid}")}" Type="{space.type}" '
           f'Name={quoteattr(space.name)}{usage} Puid="{sid}">']
    for dev in space.devices:
        out.append(f'{pad}  <DeviceInstanceRef RefId="{_pid(f"DI-{dev}")}" />')
    for child in space.children:
        out.append(_space_xml(child, ids, fn_ids, depth + 1))
    for fn in space.functions:
        fid = len(fn_ids) + 1
        fn_ids[fid] = fn.name
        out.append(f'{pad}  <Function Id="{_pid(f"F-{fid}")}" Name={quoteattr(fn.name)} '
                   f'Type="{fn.type}" Number="F{fid}" Puid="{ids.puid()}">')
        for i, (ga, role) in enumerate(fn.refs, 1):
            role_attr = f' Role="{role}"' if role else ""
            out.append(f'{pad}    <GroupAddressRef Id="{_pid(f"F-{fid}_GAR-{i}")}" '
                       f'Name={quoteattr(ga.name)} RefId="{_pid(f"GA-{ga.raw}")}"'
                       f'{role_attr} Puid="{ids.puid()}" />')
        out.append(f"{pad}  </Function>")
    out.append(f"{pad}</Space>")
    return "\n".join(out)


def project0_xml(gas: list[Ga], building: Space) -> str:
    ids = _Ids()
    devices = "\n".join(
        f'              <DeviceInstance Id="{_pid(f"DI-{n}")}" Name={quoteattr(name)} '
        f'ProductRefId="{MFR}_H-{p}_{p}" Hardware2ProgramRefId="{MFR}_H-{p}_HP-1" '
        f'Address="{n}" Puid="{ids.puid()}" />'
        for n, (name, p) in DEVICES.items())
    by_main: dict[int, dict[int, list[Ga]]] = {}
    for ga in sorted(gas, key=lambda g: g.raw):
        main, middle, _ = (int(p) for p in ga.address.split("/"))
        by_main.setdefault(main, {}).setdefault(middle, []).append(ga)
    ranges = []
    for main, middles in by_main.items():
        ranges.append(f'          <GroupRange Id="{_pid(f"GR-{main}")}" Name="Main {main}" '
                      f'RangeStart="{main << 11}" RangeEnd="{(main << 11) + 2047}" '
                      f'Puid="{ids.puid()}">')
        for middle, members in middles.items():
            start = (main << 11) | (middle << 8)
            ranges.append(f'            <GroupRange Id="{_pid(f"GR-{main}-{middle}")}" '
                          f'Name="Middle {main}/{middle}" RangeStart="{start}" '
                          f'RangeEnd="{start + 255}" Puid="{ids.puid()}">')
            for ga in members:
                dpt = f' DatapointType="{ga.dpt}"' if ga.dpt else ""
                ranges.append(f'              <GroupAddress Id="{_pid(f"GA-{ga.raw}")}" '
                              f'Name={quoteattr(ga.name)} Address="{ga.raw}"{dpt} '
                              f'Puid="{ids.puid()}" />')
            ranges.append("            </GroupRange>")
        ranges.append("          </GroupRange>")
    locations = _space_xml(building, ids, {}, 5)
    group_ranges = "\n".join(ranges)
    return _knx(f"""  <Project Id="{PID}">
    <Installations>
      <Installation Name="" BCUKey="4294967295" IPRoutingMulticastAddress="224.0.23.12">
        <Topology>
          <Area Id="{_pid("A-1")}" Name="House" Address="1" Puid="{ids.puid()}">
            <Line Id="{_pid("L-1")}" Name="Main line" Address="1" Puid="{ids.puid()}">
              <Segment Id="{_pid("S-1")}" Name="Segment 0" MediumTypeRefId="MT-0" Number="0">
{devices}
              </Segment>
            </Line>
          </Area>
        </Topology>
        <Locations>
{locations}
        </Locations>
        <GroupAddresses>
          <GroupRanges>
{group_ranges}
          </GroupRanges>
        </GroupAddresses>
      </Installation>
    </Installations>
  </Project>""")


def ets6_zip_password(password: str) -> bytes:
    key = hashlib.pbkdf2_hmac("sha256", password.encode("utf-16-le"),
                              b"21.project.ets.knx.org", 65536, 32)
    return base64.b64encode(key)


def write_knxproj(path: Path, password: str | None = None) -> Path:
    """Write the test building as an ETS 6 project; with ``password``, a protected one."""
    name, gas, building = demo_project()
    project_files = {"project.xml": project_xml(name), "0.xml": project0_xml(gas, building)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("knx_master.xml", master_xml())
        zf.writestr(f"{PID}.signature", base64.b64encode(b"not checked by importers"))
        zf.writestr(f"{MFR}/Hardware.xml", hardware_xml())
        if password is None:
            for fname, text in project_files.items():
                zf.writestr(f"{PID}/{fname}", text)
        else:
            import pyzipper  # xknxproject's own dependency for ETS 6 AES archives

            inner = io.BytesIO()
            with pyzipper.AESZipFile(inner, "w", compression=pyzipper.ZIP_DEFLATED,
                                     encryption=pyzipper.WZ_AES) as aes:
                aes.setpassword(ets6_zip_password(password))
                for fname, text in project_files.items():
                    aes.writestr(fname, text)
            zf.writestr(f"{PID}.zip", inner.getvalue())
    return path
