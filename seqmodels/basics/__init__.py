"""The course's network basics, small enough to read in one sitting.

    data        the logic gates (AND, OR, XOR) and scikit-learn's bundled digits, split
    handprop    a multi-layer network in numpy whose backward pass is written by hand
    nets        torch networks for the basics: perceptron, logistic regression, deep MLPs with a
                chosen activation and initialisation, and how to look inside them

The ``lab`` experiments perceptron, backprop, activations, initialisation and gradient-descent
(``pucklab.seqmodels.lab``) are built on these.
"""
