"""The worker: sweeps that find due rows through an index and perform their effect with the
same action functions the API uses, each effect claimed so any number of workers produce it
once."""
