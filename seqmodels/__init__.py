"""pucklab.seqmodels: recurrent sequence models, and the commands built on them.

    cells         RNN / LSTM / GRU cells written as the equations, state-dict equal to torch.nn
    layers        stacks of them (fused torch.nn kernels or our explicit cells), state helpers
    trainer       the one Trainer (its settings: train_config); sample: text from a char-RNN
    charrnn/      ``char-rnn``: corpus, vocabulary, model, run, CLI
    forecast/     ``forecast``: series, splits, baselines, model, task, run, report, CLI
    basics/       the course's network basics: digits and logic gates, backprop by hand, MLPs,
                  CNNs with feature maps and saliency, autoencoders
    embeddings/   word2vec (skip-gram, CBOW, negative sampling), fastText's n-grams, count
                  vectors (PPMI, SVD), Word Mover's Distance, word2vec's text format
    classify/     sequence classification: the acceptor (embedding -> RNN -> class), padding
    lab/          the sequence half's ``lab`` experiments
"""
