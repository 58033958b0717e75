"""Backbones and heads: each modality's network returns pre-ReLU features and logits."""

from fdkd_tf.models.classification_head import ClassificationHead, xavier_normal
from fdkd_tf.models.classifier import FEATURE_BUILDERS, build_classifier
from fdkd_tf.models.mlp import mlp_features
from fdkd_tf.models.resnet import RESNET18_FEATURE_DIM, resnet18_features, resnet18_trunk
from fdkd_tf.models.small_cnn import small_cnn_features

__all__ = [
    "FEATURE_BUILDERS",
    "RESNET18_FEATURE_DIM",
    "ClassificationHead",
    "build_classifier",
    "mlp_features",
    "resnet18_features",
    "resnet18_trunk",
    "small_cnn_features",
    "xavier_normal",
]
