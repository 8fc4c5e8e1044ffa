"""OpenLineage run events for every node of every run: a plugin of the engine.

Published under the entry-point group ``orchestrate_ext.plugins`` like the
other plugins; the engine never imports it by name, and nothing here loads the
``openlineage-python`` client unless lineage is on.

==============  ==============================================================
module          what it does
==============  ==============================================================
``plugin``      the ``lineage:`` key, when lineage is on, the store component
``config``      the ``lineage:`` section, and finding OpenLineage's own configuration
``facts``       run events as plain data: job names, run ids, datasets, facets
``events``      those facts as OpenLineage ``RunEvent`` JSON (the client's classes)
``observer``    hears runs and writes their events to the outbox, never raising
``outbox``      the outbox table in the state store (SQLite or PostgreSQL)
``delivery``    the background sender: claims, retries with backoff, gives up late
``transport``   the client transport from the section or the client's own config
``cli``         ``orchestrate lineage status`` and ``orchestrate lineage deliver``
==============  ==============================================================
"""
