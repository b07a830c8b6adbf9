"""Input vocabulary shared by models, catalogs and plans: GPU models, jurisdictions, user regions,
and the "did you mean" hints for names a user typed."""
