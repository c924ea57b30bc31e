"""Use cases over ports (``service.ports``), one per module; ``tuner.wiring`` builds them over AWS.

``tuning.TuningService`` assembles them; ``families.FamilyService`` runs tuning families.
"""
