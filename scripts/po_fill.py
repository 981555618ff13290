"""Fill empty zh-hans translations from a file of `msgid<TAB>msgstr` lines, then compile.

Usage: python scripts/po_fill.py translations.tsv
Lines whose msgid is not in the catalogue are reported; existing translations are kept
unless --overwrite is given.
"""

import sys
from pathlib import Path

import polib

PO = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def main(argv):
    overwrite = "--overwrite" in argv
    paths = [a for a in argv if not a.startswith("--")]
    catalogue = polib.pofile(str(PO))
    by_id = {entry.msgid: entry for entry in catalogue}
    missing = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if not line.strip() or "\t" not in line:
                continue
            msgid, msgstr = line.split("\t", 1)
            msgid = msgid.replace("\\n", "\n")
            entry = by_id.get(msgid)
            if entry is None:
                missing.append(msgid)
                continue
            if overwrite or not entry.msgstr or "fuzzy" in entry.flags:
                entry.msgstr = msgstr.replace("\\n", "\n")
                if "fuzzy" in entry.flags:
                    entry.flags.remove("fuzzy")
    catalogue.save(str(PO))
    catalogue.save_as_mofile(str(PO.with_suffix(".mo")))
    untranslated = [e.msgid for e in catalogue.untranslated_entries()]
    for msgid in missing:
        print(f"not in catalogue: {msgid!r}")
    print(f"{len(untranslated)} untranslated:")
    for msgid in untranslated:
        print(f"  {msgid!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
