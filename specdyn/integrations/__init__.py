"""Recording from other training frameworks: Hugging Face ``Trainer`` and Lightning.

Each callback lives in its own module, so importing one framework never imports the other:
``specdyn.integrations.huggingface.SpectralCallback`` (extra ``hf``) and
``specdyn.integrations.lightning.SpectralCallback`` (extra ``lightning``).
"""
