"""The ASR task ESPnet3 recipes name to build the plugin's models.

An ESPnet3 training config names its task class by import path (``task:``); ESPnet3
builds the model from the config's ESPnet2-style ``model:`` block with that class's
``build_model`` (``espnet3.utils.task_utils.get_espnet_model``), and the ``collect_stats``,
``train`` and ``pack_model`` stages all go through it. ESPnet3's own ASR task
(``espnet3.systems.esp2_asr.task.ASRTask``) is a copy of ESPnet2's with its own class
choices, which know nothing of this plugin.

``ASRTask`` here is ESPnet2's ASR task: importing this module imports ``espnet_omnirouter``,
which adds the plugin's classes to ESPnet2's choices. ESPnet2's task, rather than
ESPnet3's copy, because ESPnet3's ASR inference builds the trained model with ESPnet2's
``Speech2Text``, that is from ESPnet2's choices: training and decoding then read one set
of choices, and a model ESPnet3 trains decodes wherever the plugin is imported.
"""

from espnet2.tasks.asr import ASRTask as ESPnet2ASRTask

import espnet_omnirouter  # noqa: F401  (registers the plugin's classes into ESPnet2's choices)


class ASRTask(ESPnet2ASRTask):
    """ESPnet2's ASR task with the plugin's classes among its choices.

    ``task: espnet_omnirouter.espnet3.task.ASRTask`` in an ESPnet3 training config makes
    ``encoder: moe_conformer`` / ``u2pp_conformer``, ``decoder: moe_transformer`` /
    ``bi_transformer`` and ``model: moe_espnet`` / ``u2pp`` valid in its ``model:`` block,
    next to every class of ESPnet's own ASR task.
    """
