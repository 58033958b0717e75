"""Export a trained student (SavedModel, TFLite fp32 / fp16 / int8) and verify it."""

from fdkd_tf.export.converters import FORMATS, INT8_SCALES, TFLITE_FORMATS, convert_tflite, save_saved_model
from fdkd_tf.export.exporter import ExportError, export_model, export_run, format_report, parse_formats
from fdkd_tf.export.inference_model import SERVING_SIGNATURE, build_inference_model
from fdkd_tf.export.litert_runner import LiteRTModel

__all__ = [
    "FORMATS",
    "INT8_SCALES",
    "SERVING_SIGNATURE",
    "TFLITE_FORMATS",
    "ExportError",
    "LiteRTModel",
    "build_inference_model",
    "convert_tflite",
    "export_model",
    "export_run",
    "format_report",
    "parse_formats",
    "save_saved_model",
]
