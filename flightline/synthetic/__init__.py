"""Synthetic landing data after 2013: simulated months with drift, and N-times scaled warehouses.

:mod:`.simulate` builds one month from the same month of 2013 (:mod:`.templates`, with the time
arithmetic of :mod:`.clock`); :mod:`.knobs` describes and parses the drift knobs, whose effects
are :mod:`.delays` and :mod:`.routes`; :mod:`.scale` lands 2013 plus N - 1 simulated years.
"""
