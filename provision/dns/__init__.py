"""DNS: the records mailsh needs (records.py) and the providers that publish them."""
