"""Render a finished report (the ``report.json`` dict) as Markdown tables and as the stderr summary."""

from __future__ import annotations

from typing import Any

SEG_COLUMNS = (("iou", "IoU"), ("dice", "Dice"), ("precision", "Precision"), ("recall", "Recall"),
               ("leftover", "Leftover"))
IMAGE_COLUMNS = (("mask_l1", "L1 in mask"), ("mask_psnr", "PSNR in mask"), ("mask_ssim", "SSIM in mask"),
                 ("mask_sharpness", "Sharpness"), ("identity", "Identity"),
                 ("full_l1", "L1"), ("full_psnr", "PSNR"), ("full_ssim", "SSIM"), ("n", "n"))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def seg_rows(block: dict[str, dict[str, float]]) -> list[list[str]]:
    return [[variant] + [_fmt(scores.get(k)) for k, _ in SEG_COLUMNS] for variant, scores in block.items()]


def image_rows(block: dict[str, dict[str, float]]) -> list[list[str]]:
    return [[method] + [_fmt(row.get(k)) for k, _ in IMAGE_COLUMNS] for method, row in block.items()]


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """Fixed-width columns for a terminal: first column left-aligned, numbers right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _seg_headers() -> list[str]:
    return ["mask used"] + [h for _, h in SEG_COLUMNS]


def _image_headers() -> list[str]:
    return ["method"] + [h for _, h in IMAGE_COLUMNS]


def psnr_gain(block: dict[str, dict[str, float]]) -> float | None:
    """In-mask PSNR of the pipeline minus that of the masked input (what unmasking bought), in dB."""
    try:
        return block["pipeline"]["mask_psnr"] - block["baseline_masked_input"]["mask_psnr"]
    except KeyError:
        return None


def summary_text(report: dict) -> str:
    """The main tables (overall) for stderr."""
    crops = report["crops"]
    parts = [f"{report['counts']['samples']} faces of split '{report['split']}' of {report['dataset']['path']}, "
             f"threshold {report['threshold']}",
             "", "segmentation (cleaned: the pipeline's mask; raw: probability >= threshold)",
             text_table(_seg_headers(), seg_rows(crops["segmentation"]["overall"])),
             "", "inpainting, compared with the original (in mask: inside the true mask)",
             text_table(_image_headers(), image_rows(crops["inpainting"]["overall"]))]
    photos = report.get("photos")
    if photos:
        overall = photos["inpainting"]["overall"]
        parts += ["", f"full photos ({photos['counts']['photos']} photos, {photos['counts']['masks_removed']} of "
                      f"{photos['counts']['faces_masked']} masks removed), at photo resolution",
                  text_table(_image_headers(), image_rows(overall))]
        if gain := psnr_gain(overall):
            parts.append(f"in-mask PSNR gain over the masked input: {gain:+.2f} dB")
    return "\n".join(parts)


def markdown(report: dict) -> str:
    """report.md: settings, then overall and per-mask-type tables."""
    crops, w = report["crops"], report["weights"]
    out = ["# MaskAway evaluation", "",
           f"- dataset: `{report['dataset']['path']}` ({report['dataset']['layout']} layout), split "
           f"`{report['split']}`" + (f" (asked for `{report['split_requested']}`, which is empty)"
                                      if report["split"] != report["split_requested"] else ""),
           f"- faces: {report['counts']['samples']} measured, {report['counts']['skipped']} skipped, "
           f"{report['counts']['no_mask_found']} where the pipeline found no mask (left unchanged, measured as such)",
           f"- models: {report['model_size']} px, threshold {report['threshold']}, device {report['device']}",
           *(f"- {kind}: `{v['path']}` (sha256 `{v['sha256'][:16]}…`)" for kind, v in w.items()),
           "", "Segmentation: `cleaned` is the mask the pipeline uses (small parts dropped, slightly dilated); "
           "`raw` is segmenter probability >= threshold. Inpainting: every result is compared with the "
           "unmasked original; *in mask* means inside the true mask (the honest numbers: outside it the "
           "pipeline copies pixels through). PSNR in dB, capped at 100 per image; L1 on [0,1]. Sharpness: median "
           "over images of the Laplacian variance in the true mask, result / original (1 keeps the real face's "
           "fine detail; photos are compared at half size). Identity (photos): share of faces dlib's face "
           "recogniser matches to the right person among the original photos.", ""]
    groups = [("Overall", None)] + [(f"Mask type `{t}`", t) for t in crops["segmentation"]["by_mask_type"]]
    for title, key in groups:
        seg = crops["segmentation"]["overall"] if key is None else crops["segmentation"]["by_mask_type"][key]
        img = crops["inpainting"]["overall"] if key is None else crops["inpainting"]["by_mask_type"][key]
        out += [f"## {title}", "", "### Segmentation", "", markdown_table(_seg_headers(), seg_rows(seg)),
                "", "### Inpainting", "", markdown_table(_image_headers(), image_rows(img)), ""]
    photos = report.get("photos")
    if photos:
        c = photos["counts"]
        out += ["## Full photos", "",
                f"`{photos['folder']}`: {c['photos']} photos measured, {c['skipped']} skipped; synthetic masks "
                f"(seed {photos['seed']}) on {c['faces_masked']} faces, the pipeline found {c['faces_found']} "
                f"faces and removed {c['masks_removed']} masks.", "",
                markdown_table(_image_headers(), image_rows(photos["inpainting"]["overall"])), "",
                f"In-mask PSNR gain over the masked input: {psnr_gain(photos['inpainting']['overall']) or 0:+.2f} dB.", ""]
        for t, block in photos["inpainting"]["by_mask_type"].items():
            out += [f"### Photos, mask type `{t}`", "", markdown_table(_image_headers(), image_rows(block)), ""]
    if report.get("contact_sheet"):
        out += ["## Samples", "", f"![masked | predicted mask | result | ground truth]({report['contact_sheet']})",
                "", "Predicted mask column: white = correct, orange = false alarm, blue = missed.", ""]
    return "\n".join(out)
