"""Who is who and who may do what: the organisation (regions, schools, people) and its import, scopes and areas,
accounts and sign-in (password hashes, the throttle), API tokens, a region's curator pool."""
