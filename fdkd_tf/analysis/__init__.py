"""The paper's analyses: band similarity (Table 1), feature means (Fig. 1), t-SNE (Fig. 4).

Pure numpy functions (`band_similarity`, `per_bin_similarity`, `feature_means`,
`joint_tsne`) under report functions that load models, read the test split and
write JSON, markdown and PNG files (`fdkd_tf.analysis.reports`, used by
``tools/analyze.py``), and a TensorBoard hook used at the end of training
(`fdkd_tf.analysis.tensorboard`). Plotting and t-SNE need matplotlib and
scikit-learn, imported only when a figure or an embedding is made.
"""

from fdkd_tf.analysis.errors import AnalysisError
from fdkd_tf.analysis.feature_means import feature_means, feature_means_report, scale_summary
from fdkd_tf.analysis.features import extract_features
from fdkd_tf.analysis.projection import PROJECTIONS, apply_projection, fit_lstsq_projection, match_sizes
from fdkd_tf.analysis.similarity import band_similarity, cosine_similarity, per_bin_similarity, similarity_table
from fdkd_tf.analysis.sources import PAIRS, ModelSource, load_run_config, sources_from_checkpoints, sources_from_run
from fdkd_tf.analysis.tsne import joint_tsne, subsample_indices

__all__ = [
    "PAIRS",
    "PROJECTIONS",
    "AnalysisError",
    "ModelSource",
    "apply_projection",
    "band_similarity",
    "cosine_similarity",
    "extract_features",
    "feature_means",
    "feature_means_report",
    "fit_lstsq_projection",
    "joint_tsne",
    "load_run_config",
    "match_sizes",
    "per_bin_similarity",
    "scale_summary",
    "similarity_table",
    "sources_from_checkpoints",
    "sources_from_run",
    "subsample_indices",
]
