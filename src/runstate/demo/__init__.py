"""``runstate demo``: a small credit-scoring project, captured end to end.

``project-template/`` holds the template (plain files a newcomer reads: ``generate.py``,
``preprocess.py``, ``train.py``, ``score.py``); :mod:`runstate.demo.driver` copies it to a
fresh folder, runs it under capture, releases it, changes it and runs it again.
"""
