"""The course's network basics, small enough to read in one sitting.

    data        the logic gates (AND, OR, XOR) and scikit-learn's bundled digits, split
    handprop    a multi-layer network in numpy whose backward pass is written by hand
    nets        torch networks for the basics: perceptron, logistic regression, deep MLPs with a
                chosen activation and initialisation, and how to look inside them
    conv        convolutional networks (a dense or a global-max head), feature maps, saliency
    autoencoders  dense, linear and convolutional autoencoders; denoising and sparse training

The ``lab`` experiments perceptron, backprop, activations, initialisation, gradient-descent,
batch-norm, convolution and autoencoder (``pucklab.seqmodels.lab``) are built on these.
"""
