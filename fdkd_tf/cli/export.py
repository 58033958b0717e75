"""Export a trained student and verify it: ``python tools/export.py --run-dir DIR``.

Writes DIR/export/: saved_model/ (signature ``serving_default``), student.tflite,
student_fp16.tflite, student_int8.tflite and report.json, and prints the
verification table (max |diff| from Keras, test accuracy with the LiteRT
interpreter, size, latency per sample on this CPU).
"""

from __future__ import annotations

import argparse
import os
import sys


from fdkd_tf.cli.errors import guarded
from fdkd_tf.export.converters import DEFAULT_INT8_SCALES, FORMATS, INT8_SCALES


@guarded
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", required=True, help="run directory written by tools/train.py")
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"comma-separated subset of {','.join(FORMATS)} (default: all)")
    parser.add_argument("--with-preprocessing", action="store_true", help="audio students: put the waveform -> log spectrogram front end inside the exported graph")
    parser.add_argument("--representative-samples", type=int, default=200, help="training-split inputs that calibrate int8 (default 200)")
    parser.add_argument("--representative-waveforms", default=None, metavar="FILE.npy", help="raw training waveforms (n, samples) to calibrate int8 with --with-preprocessing (default: the prepared training clips, when the run's data root holds them)")
    parser.add_argument("--waveform-samples", type=int, default=None, help="waveform length of the signature with --with-preprocessing (default: the front end's length)")
    parser.add_argument("--int8-scales", default=DEFAULT_INT8_SCALES, metavar="MODE", help=f"int8 weight scales, one of {', '.join(INT8_SCALES)} (default {DEFAULT_INT8_SCALES}: per output channel for convolutions, per tensor for dense layers)")
    parser.add_argument("--output-dir", default=None, help="export directory (default: RUN_DIR/export)")
    parser.add_argument("--latency-samples", type=int, default=50, help="timed single-sample calls per format (default 50)")
    args = parser.parse_args(argv)

    import numpy as np

    from fdkd_tf.export.exporter import ExportError, export_run, format_report, parse_formats

    try:
        formats = parse_formats(args.formats)
        waveforms = None
        if args.representative_waveforms:
            if not os.path.isfile(args.representative_waveforms):
                raise ExportError(f"--representative-waveforms: file not found: {args.representative_waveforms}")
            waveforms = np.load(args.representative_waveforms).astype("float32")
        report = export_run(
            args.run_dir,
            formats,
            with_preprocessing=args.with_preprocessing,
            representative_samples=args.representative_samples,
            waveform_samples=args.waveform_samples,
            representative_waveforms=waveforms,
            latency_samples=args.latency_samples,
            int8_scales=args.int8_scales,
            output_dir=args.output_dir,
        )
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_report(report))
    export_dir = args.output_dir or os.path.join(args.run_dir, "export")
    print(f"report: {os.path.join(os.path.abspath(export_dir), 'report.json')}")
    return 0

