"""Before / after pictures of photo edits at each photo's own resolution (one row per edit), for docs/.

    python benchmarks/edit_pictures.py --edit ../shared/data/celebamask-hq-512/X.jpg Smiling=1 \
        --edit ... Eyeglasses=1 --out docs/edit_before_after.jpg

Each edit runs `facegen.photo_edit.edit_photo` with its defaults, as `facegen edit --paste-back` does.
"""

from __future__ import annotations

import argparse

from PIL import Image

from facegen.photo_edit import edit_photo
from facegen.pipeline import FacePipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edit", nargs=2, action="append", metavar=("PHOTO", "CHANGES"), required=True)
    parser.add_argument("--model", default="faces128")
    parser.add_argument("--out", required=True, help="a .jpg (quality 85) or .png")
    args = parser.parse_args()
    pipe = FacePipeline.from_pretrained(args.model)
    rows = []
    for photo, changes in args.edit:
        result = edit_photo(pipe, photo, changes)
        print(photo, changes, result.note, result.report)
        rows.append((result.photo, result.pasted))
    width = max(before.width + after.width for before, after in rows)
    sheet = Image.new("RGB", (width, sum(before.height for before, _ in rows)), "white")
    top = 0
    for before, after in rows:
        sheet.paste(before, (0, top))
        sheet.paste(after, (before.width, top))
        top += before.height
    sheet.save(args.out, quality=85)


if __name__ == "__main__":
    main()
