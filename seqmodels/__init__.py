"""pucklab.seqmodels: RNN / LSTM / GRU cells, the shared trainer, char-RNN and forecasting (issue 4)."""
