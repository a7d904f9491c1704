"""ESPnet3 entry point of the espeak_en recipe: ``python run.py --stages ... --*_config ...``.

ESPnet3's own ASR system and launcher; the configs name the plugin's task, decoding
backend and metric by import path (``espnet_omnirouter.espnet3``).
"""

from espnet3.systems.esp2_asr.system import ASRSystem
from espnet3.systems.launch import launch

if __name__ == "__main__":
    launch(ASRSystem)
