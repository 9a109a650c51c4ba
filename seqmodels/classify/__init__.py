"""Sequence classification, the course's "acceptor": a network reads a whole sequence of words
and outputs one class.

    data    lines and speakers' utterances from a play's text, a word vocabulary with
            ``<pad>`` and ``<unk>``, padding a batch to one length
    model   embedding -> RNN / LSTM / GRU (packed, so padding changes nothing) -> last state or
            mean over time -> class; and the bag-of-words baseline, a mean of embeddings
    train   the classification task in the shared Trainer's shape, and predictions

``lab sequence-classification`` (:mod:`pucklab.seqmodels.lab.sequences`) is built on these.
"""
