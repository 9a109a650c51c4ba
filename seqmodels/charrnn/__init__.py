"""char-RNN: a character-level language model, trained and sampled (``char-rnn``).

    data    corpora (files or Tiny Shakespeare, downloaded once), vocabulary, stateful batches
    model   characters -> embedding -> recurrent stack -> next-character logits
    runner  the settings, ``run(settings, run_dir=None, *, report=None)``, loading a run
    cli     ``char-rnn train | sample``
"""

from pucklab.seqmodels.charrnn.data import Vocab
from pucklab.seqmodels.charrnn.runner import CharRNNSettings, load_model, run

__all__ = ["CharRNNSettings", "Vocab", "load_model", "run"]
