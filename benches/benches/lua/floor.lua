-- The floor of one round trip: a script that returns at once.
return 1
