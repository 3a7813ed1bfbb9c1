"""XMP sidecar packets: put photoclust's keywords in, take them out, keep the rest.

A sidecar may already hold what other apps wrote (ratings, darktable's edit history,
digiKam's own tags), so an existing packet is parsed, only photoclust's own entries are
replaced, and everything else is written back as it was (XML-equivalent; namespace
prefixes are kept). Keywords go where digiKam, darktable and Lightroom read them:
  dc:subject               the flat keyword ("Beach"), a Bag
  lr:hierarchicalSubject   "photoclust|Beach", a Bag (Lightroom, darktable, digiKam)
  digiKam:TagsList         "photoclust/Beach", a Seq (digiKam)
Photoclust's entries are recognised by the "photoclust" parent of the hierarchical forms;
a flat keyword is ours when it is the leaf of one of those (digiKam does the same).
Written with xml.etree (no hand-concatenated XML): no XMP library installs from PyPI
without a C library (python-xmp-toolkit needs libexempi), and exiftool checks the result
in the tests.
"""
from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from io import BytesIO

PARENT = "photoclust"
MAX_SIDECAR_BYTES = 4 << 20     # real sidecars are KB; anything larger is left alone

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
}
_RDF = "{%s}" % NS["rdf"]
# (property, container, hierarchical separator or None for the flat keyword)
_PROPS = (("{%s}subject" % NS["dc"], "Bag", None),
          ("{%s}hierarchicalSubject" % NS["lr"], "Bag", "|"),
          ("{%s}TagsList" % NS["digiKam"], "Seq", "/"))
_PACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_END = '\n<?xpacket end="w"?>\n'


class NotXmp(ValueError):
    """An existing sidecar that is not a readable XMP packet; str(err) says why."""


def keyword(name: str) -> str:
    """A cluster name as one keyword: no control characters, no '|' or '/' (the
    hierarchy separators of Lightroom and digiKam), whitespace runs as one space."""
    out = []
    for ch in unicodedata.normalize("NFC", str(name)):
        cat = unicodedata.category(ch)
        if ch in "|/\\":
            out.append("_")
        elif ch.isspace():
            out.append(" ")
        elif cat in ("Cc", "Cs", "Cf") and ch != "\u200d":
            continue
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _parse(data: bytes) -> ET.Element:
    if len(data) > MAX_SIDECAR_BYTES:
        raise NotXmp("it is too large to be an XMP sidecar")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:   # entity expansion is never needed in XMP
        raise NotXmp("it declares XML entities, which XMP never uses")
    try:
        for prefix, uri in (ev[1] for ev in ET.iterparse(BytesIO(data), events=("start-ns",))):
            if prefix and not re.fullmatch(r"ns\d+", prefix):
                ET.register_namespace(prefix, uri)   # keep the prefixes other apps chose
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise NotXmp(f"it is not well-formed XML ({err})") from None
    if root.tag == "{%s}xmpmeta" % NS["x"]:
        rdf = root.find(_RDF + "RDF")
    elif root.tag == _RDF + "RDF":
        rdf, root = root, _wrap(root)
    else:
        rdf = None
    if rdf is None:
        raise NotXmp("it holds no XMP (no rdf:RDF element)")
    return root


def _wrap(rdf: ET.Element) -> ET.Element:
    meta = ET.Element("{%s}xmpmeta" % NS["x"], {"{%s}xmptk" % NS["x"]: "photoclust"})
    meta.append(rdf)
    return meta


def _new() -> ET.Element:
    rdf = ET.Element(_RDF + "RDF")
    ET.SubElement(rdf, _RDF + "Description", {_RDF + "about": ""})
    return _wrap(rdf)


def _items(prop: ET.Element) -> list[ET.Element]:
    return [li for c in prop for li in c if li.tag == _RDF + "li"]


def read_keywords(data: bytes) -> dict[str, list[str]]:
    """{'subject', 'hierarchicalSubject', 'TagsList'} -> values, for checks and reports."""
    root = _parse(data)
    out = {}
    for tag, _, _ in _PROPS:
        out[tag.rsplit("}", 1)[1]] = [li.text or "" for p in root.iter(tag) for li in _items(p)]
    return out


def ours(data: bytes) -> list[str]:
    """The photoclust keywords (leaves) a packet holds."""
    return [h.split("|", 1)[1] for h in read_keywords(data)["hierarchicalSubject"] if h.startswith(PARENT + "|")]


def merge(existing: bytes | None, keywords: list[str]) -> bytes | None:
    """The sidecar's new bytes: existing (None: no sidecar yet) with photoclust's keywords
    replaced by ``keywords``. None when nothing at all would be left in it (the sidecar
    can go). Raises NotXmp for an existing file that is not an XMP packet."""
    root = _parse(existing) if existing is not None else _new()
    rdf = root.find(_RDF + "RDF")
    descs = rdf.findall(_RDF + "Description")
    if not descs:
        descs = [ET.SubElement(rdf, _RDF + "Description", {_RDF + "about": ""})]
    old_leaves = set()
    for p in root.iter(_PROPS[1][0]):
        old_leaves |= {(li.text or "").split("|", 1)[1] for li in _items(p)
                       if (li.text or "").startswith(PARENT + "|")}
    kws = list(dict.fromkeys(k for k in (keyword(k) for k in keywords) if k))
    for tag, container, sep in _PROPS:
        props = [(d, p) for d in descs for p in d.findall(tag)]
        for _, p in props:   # drop photoclust's own entries everywhere
            for c in p:
                for li in list(c):
                    text = li.text or ""
                    if (text in old_leaves) if sep is None else text.startswith(PARENT + sep):
                        c.remove(li)
        values = kws if sep is None else [f"{PARENT}{sep}{k}" for k in kws]
        if values:
            if props:
                prop = props[0][1]
            else:
                prop = ET.SubElement(descs[0], tag)
            box = next((c for c in prop if c.tag in (_RDF + "Bag", _RDF + "Seq")), None)
            if box is None:
                box = ET.SubElement(prop, _RDF + container)
            have = {li.text for li in box}
            for v in values:
                if v not in have:
                    ET.SubElement(box, _RDF + "li").text = v
        for d, p in props:   # an emptied property goes
            if not _items(p) and not (p.text or "").strip():
                d.remove(p)
    if all(len(d) == 0 and set(d.attrib) <= {_RDF + "about"} for d in descs) and len(rdf) == len(descs):
        return None
    for prefix, uri in NS.items():
        ET.register_namespace(prefix, uri)
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return (_PACKET_BEGIN + body + _PACKET_END).encode("utf-8")
