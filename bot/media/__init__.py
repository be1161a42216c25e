"""Images: decoding and re-encoding (codec), fetching member images from allowed hosts (sources), handing them
to LiblibAI (transport), and fetching a job's stored results again (results)."""
