"""`photoclust tag`: cluster names as XMP keywords in sidecars beside the photos, read back
by exiftool as digiKam, darktable and Lightroom would; other content kept; undo; and no
write ever follows a link out of the photo folder."""
import hashlib
import json
import shutil
import subprocess

import numpy as np
import pytest

from photoclust_app.cli import main
from photoclust_app.core.clustering.plan import ClusteringPlan, apply_clustering
from photoclust_app.core.records import PhotoMeta, PhotoRecord
from photoclust_app.core.store.library import IndexedPhoto, Library
from photoclust_app.core.tags import xmp

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed (Debian: "
                                    "libimage-exiftool-perl); the XMP read-back by a real reader is not checked")

# What darktable and digiKam leave in a sidecar: other keywords, a rating, an edit history.
FOREIGN = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:darktable="http://darktable.sf.net/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/" xmp:Rating="4" darktable:history_end="1">
   <dc:subject><rdf:Bag><rdf:li>family</rdf:li></rdf:Bag></dc:subject>
   <digiKam:TagsList><rdf:Seq><rdf:li>People/Anna</rdf:li></rdf:Seq></digiKam:TagsList>
   <darktable:history><rdf:Seq><rdf:li darktable:operation="exposure" darktable:enabled="1"/></rdf:Seq></darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


@pytest.fixture
def folder(tmp_path):
    """12 photos: "sea" (00-04, in sub/ for 03-04), "hills" (05-08), Unsorted (09-11)."""
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    rels = [f"{i:02d}.jpg" if i not in (3, 4) else f"sub/{i:02d}.jpg" for i in range(12)]
    for i, r in enumerate(rels):
        (root / r).write_bytes(b"\xff\xd8 photo %d" % i)
    with Library.open(root) as lib:
        lib.set_meta("model", "m")
        ids = np.array(lib.add_photos([IndexedPhoto(PhotoRecord(r, 1, 1), str(i), PhotoMeta(1, 1), b"", np.ones(2))
                                       for i, r in enumerate(rels)], "m"))
        labels = np.array([0] * 5 + [1] * 4 + [-1] * 3)
        apply_clustering(lib, ClusteringPlan("m", ids, labels, np.ones(12, np.float32),
                                             {0: ids[:2].tolist(), 1: ids[5:7].tolist()}, {0: "sea", 1: "hills"},
                                             {}, {}, np.zeros((12, 2), np.float32)))
    return root


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def exif_keywords(*paths) -> list[dict]:
    out = subprocess.run([EXIFTOOL, "-j", "-XMP-dc:Subject", "-XMP-lr:HierarchicalSubject",
                          "-XMP-digiKam:TagsList", "-XMP-xmp:Rating", "-XMP-darktable:all", *map(str, paths)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def as_list(v):
    return [] if v is None else v if isinstance(v, list) else [v]


def digest(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.jpg"))}


@needs_exiftool
def test_exiftool_reads_the_keywords_as_digikam_darktable_and_lightroom_do(folder, capsys):
    photos = digest(folder)
    code, out = run(capsys, "tag", folder)
    assert code == 0 and "9 sidecars written" in out
    [sea] = exif_keywords(folder / "sub" / "03.jpg.xmp")
    assert as_list(sea.get("Subject")) == ["sea"]
    assert as_list(sea.get("HierarchicalSubject")) == ["photoclust|sea"]
    assert as_list(sea.get("TagsList")) == ["photoclust/sea"]
    [hills] = exif_keywords(folder / "05.jpg.xmp")
    assert as_list(hills.get("Subject")) == ["hills"]
    assert not list(folder.glob("09.jpg*.xmp"))           # Unsorted: no keyword, no sidecar
    assert digest(folder) == photos                       # the photos themselves untouched


@needs_exiftool
def test_an_existing_sidecar_keeps_its_content_and_a_rename_replaces_the_keyword(folder, capsys):
    side = folder / "00.jpg.xmp"
    side.write_text(FOREIGN, encoding="utf-8")
    assert run(capsys, "tag", folder)[0] == 0
    [k] = exif_keywords(side)
    assert as_list(k["Subject"]) == ["family", "sea"]
    assert as_list(k["TagsList"]) == ["People/Anna", "photoclust/sea"]
    assert as_list(k["HierarchicalSubject"]) == ["photoclust|sea"]
    assert k["Rating"] == 4 and k["HistoryOperation"] == "exposure"   # darktable's history kept
    assert run(capsys, "rename", folder, "sea", "Beach / Sea")[0] == 0
    code, out = run(capsys, "tag", folder)
    assert code == 0 and "5 sidecars written, 4 already up to date" in out
    [k] = exif_keywords(side)
    assert as_list(k["Subject"]) == ["family", "Beach _ Sea"]      # '/' would be a level in digiKam
    assert as_list(k["TagsList"]) == ["People/Anna", "photoclust/Beach _ Sea"]
    assert as_list(k["HierarchicalSubject"]) == ["photoclust|Beach _ Sea"]


def test_undo_puts_every_sidecar_back_and_leaves_one_another_app_changed(folder, capsys):
    side = folder / "00.jpg.xmp"
    side.write_text(FOREIGN, encoding="utf-8")
    assert run(capsys, "tag", folder)[0] == 0
    assert run(capsys, "rename", folder, "hills", "Mountains")[0] == 0
    assert run(capsys, "tag", folder)[0] == 0
    assert xmp.ours((folder / "05.jpg.xmp").read_bytes()) == ["Mountains"]
    (folder / "06.jpg.xmp").write_text(FOREIGN, encoding="utf-8")   # another app rewrote it since
    code, out = run(capsys, "tag", folder, "--undo")                # the second tagging
    assert code == 2 and "3 sidecars back" in out and "06.jpg.xmp" in out and "changed since" in out
    assert xmp.ours((folder / "05.jpg.xmp").read_bytes()) == ["hills"]
    assert (folder / "06.jpg.xmp").read_text(encoding="utf-8") == FOREIGN
    code, out = run(capsys, "tag", folder, "--undo")                # then the first tagging
    assert code == 2 and "8 sidecars back" in out and "06.jpg.xmp" in out
    assert side.read_text(encoding="utf-8") == FOREIGN              # byte for byte
    assert sorted(p.name for p in folder.rglob("*.xmp")) == ["00.jpg.xmp", "06.jpg.xmp"]
    assert (folder / "06.jpg.xmp").read_text(encoding="utf-8") == FOREIGN
    code, out = run(capsys, "tag", folder, "--undo")
    assert code == 1 and "no tagging to undo" in out and "Traceback" not in out


def test_a_photo_moved_to_unsorted_loses_its_keyword_and_an_emptied_sidecar_goes(folder, capsys):
    assert run(capsys, "tag", folder)[0] == 0
    (folder / "01.jpg.xmp").write_text(FOREIGN, encoding="utf-8")
    assert run(capsys, "tag", folder)[0] == 0
    assert run(capsys, "move", folder, "unsorted", "00.jpg", "01.jpg")[0] == 0
    code, out = run(capsys, "tag", folder)
    assert code == 0 and "1 emptied and removed" in out
    assert not (folder / "00.jpg.xmp").exists()
    kept = xmp.read_keywords((folder / "01.jpg.xmp").read_bytes())
    assert kept["subject"] == ["family"] and kept["hierarchicalSubject"] == []


def test_sidecar_links_and_linked_folders_are_never_followed(folder, tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.xmp"
    victim.write_text(FOREIGN, encoding="utf-8")
    (folder / "00.jpg.xmp").symlink_to(victim)                      # a sidecar that leads outside
    (folder / "01.jpg.xmp").symlink_to(outside / "new.xmp")         # a dangling one
    (folder / "02.jpg.xmp").write_bytes(b"\x00\x01 not xml")        # junk: left alone
    (folder / "05.jpg.xmp").write_text('<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')
    shutil.move(folder / "sub", outside / "sub")                    # a folder swapped for a link
    (folder / "sub").symlink_to(outside / "sub")
    code, out = run(capsys, "tag", folder)
    assert code == 0 and "Traceback" not in out
    assert "00.jpg: its sidecar is a symbolic link" in out and "01.jpg: its sidecar is a symbolic link" in out
    assert "02.jpg: its sidecar 02.jpg.xmp is left alone: it is not well-formed XML" in out
    assert "05.jpg: its sidecar 05.jpg.xmp is left alone: it declares XML entities" in out
    assert "sub/03.jpg: it is reached through the symbolic link" in out
    assert victim.read_text(encoding="utf-8") == FOREIGN
    assert sorted(p.name for p in outside.rglob("*")) == ["03.jpg", "04.jpg", "sub", "victim.xmp"]
    assert (folder / "02.jpg.xmp").read_bytes() == b"\x00\x01 not xml"


def test_lightroom_naming_and_its_collision(folder, capsys):
    (folder / "05.png").write_bytes(b"png")   # not in the library: no collision
    code, out = run(capsys, "tag", folder, "--naming", "photo.xmp")
    assert code == 0 and "9 sidecars written" in out
    assert xmp.ours((folder / "05.xmp").read_bytes()) == ["hills"]
    assert not list(folder.glob("*.jpg.xmp"))


def test_bad_folder_is_a_sentence(tmp_path, capsys):
    code, out = run(capsys, "tag", tmp_path / "nope")
    assert code == 1 and out.startswith("photoclust: ") and "Traceback" not in out


def test_merge_writes_a_packet_from_nothing_and_removes_only_ours():
    data = xmp.merge(None, ["Beach", "Beach", "a|b\x07"])
    assert data.startswith(b'<?xpacket begin="\xef\xbb\xbf"') and data.rstrip().endswith(b'<?xpacket end="w"?>')
    assert xmp.read_keywords(data) == {"subject": ["Beach", "a_b"], "hierarchicalSubject":
                                       ["photoclust|Beach", "photoclust|a_b"],
                                       "TagsList": ["photoclust/Beach", "photoclust/a_b"]}
    assert xmp.merge(data, []) is None
    kept = xmp.merge(FOREIGN.encode(), [])
    assert xmp.read_keywords(kept)["subject"] == ["family"] and b"darktable:history" in kept


def test_no_journal_means_no_sidecar_is_written(folder, capsys):
    (folder / ".photoclust" / "tags").write_bytes(b"in the way")   # the journal folder cannot be made
    code, out = run(capsys, "tag", folder)
    assert code == 1 and "Could not keep the tag journal" in out and "Traceback" not in out
    assert not list(folder.rglob("*.xmp"))
