"""Word embeddings: word2vec's skip-gram and CBOW with negative sampling, and fastText's
character n-grams, written to be read.

    corpus    words of a text, the vocabulary, frequent-word subsampling, training pairs
    model     the embedding tables and the negative-sampling losses of skip-gram and CBOW
    train     the training loop (SparseAdam, batches of pairs), and what it measured
    quality   held-out co-occurrence score per word-frequency band, nearest neighbours
    documents Word Mover's Distance (on POT), mean vectors, word2vec's text format

``lab word2vec`` (``pucklab.seqmodels.lab.word2vec``) measures the course's claims with them;
``benchmarks/word2vec_gensim.py`` puts them beside gensim's Word2Vec.
"""

from pucklab.seqmodels.embeddings.documents import word_movers_distance

__all__ = ["word_movers_distance"]
