"""Backbones and heads: each modality's network returns pre-ReLU features and logits."""

from fdkd_tf.models.classification_head import ClassificationHead, xavier_normal
from fdkd_tf.models.bert import bert_features
from fdkd_tf.models.classifier import FEATURE_BUILDERS, INPUT_DTYPES, build_classifier
from fdkd_tf.models.deeplab import DeepLabV3PlusTrunk, deeplabv3plus_features
from fdkd_tf.models.mlp import mlp_features
from fdkd_tf.models.mobilenet import MOBILENET_V2_FEATURE_DIM, mobilenet_v2_features
from fdkd_tf.models.resnet import RESNET18_FEATURE_DIM, resnet18_features, resnet18_trunk
from fdkd_tf.models.small_cnn import small_cnn_features
from fdkd_tf.models.wrapping import wrap_classifier, wrap_saved_model

__all__ = [
    "FEATURE_BUILDERS",
    "INPUT_DTYPES",
    "MOBILENET_V2_FEATURE_DIM",
    "RESNET18_FEATURE_DIM",
    "ClassificationHead",
    "DeepLabV3PlusTrunk",
    "bert_features",
    "build_classifier",
    "deeplabv3plus_features",
    "mlp_features",
    "mobilenet_v2_features",
    "resnet18_features",
    "resnet18_trunk",
    "small_cnn_features",
    "wrap_classifier",
    "wrap_saved_model",
    "xavier_normal",
]
