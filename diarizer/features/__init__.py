"""Features: MFCCs and log-energy, speech activity detection, normalisation.

The functions are imported from their modules (``from diarizer.features.mfcc import mfcc``);
this package does not re-export them, so that the module ``diarizer.features.mfcc`` is not
shadowed by the function of the same name.
"""
