"""The sequence half's ``lab`` experiments, each turning one claim of the course into numbers.

    gradients       vanishing-gradients: dL/dh_t against the distance from the loss, per cell
    recall          the recall task, trained through the shared Trainer
    clipping        gradient-clipping: SGD that explodes, with and without clipping
    memory          memory-length: accuracy against the lag, per cell
    regularisation  dropout, L2, L1 and early stopping on a char-RNN that overfits
    search          hyperparameter-search: grid, random, coarse-to-fine, TPE at equal budgets
    perceptron      one layer learns AND and OR but not XOR; a hidden layer learns XOR
    backprop        backpropagation by hand against autograd and finite differences
    activations     sigmoid, tanh, ReLU, leaky ReLU in deep MLPs: gradients, speed, dead units
    initialisation  zero, small, large, Xavier and He starts
    descent         gradient-descent: batch, mini-batch and stochastic; learning rates, decay
    word2vec        skip-gram vs CBOW by word frequency and data size; n-grams for unseen words
    batchnorm       batch-norm: a deep MLP with and without it over learning rates; eval vs train mode
    convolution     linear, MLP and CNNs on digits moved across a canvas; filters, saliency
    autoencoder     PCA vs autoencoders by code size; sparse, denoising, convolutional; pretraining
    sequences       sequence-classification: acceptors vs bags of words, word order and speakers
    wordvectors     word-vectors: counts, PPMI, SVD vs word2vec; speeches by Word Mover's Distance
    nextword        next-word: softmax vs regression onto the next word's embedding

``pucklab.runs.registry`` lists them by name; ``pucklab.runs.lab`` runs them.
"""
