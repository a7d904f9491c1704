"""Shared test set-up: tiny ESPnet configurations."""

import espnet_omnirouter  # noqa: F401  (registers the plugin, as every user process does)

TINY_CONFORMER = dict(
    output_size=16,
    attention_heads=2,
    linear_units=24,
    num_blocks=3,
    dropout_rate=0.0,
    positional_dropout_rate=0.0,
    attention_dropout_rate=0.0,
    input_layer="conv2d",
    macaron_style=True,
    rel_pos_type="latest",
    pos_enc_layer_type="rel_pos",
    selfattention_layer_type="rel_selfattn",
    activation_type="swish",
    use_cnn_module=True,
    cnn_module_kernel=3,
)
