"""Drives stock tuspy (PyPI) against filegate for tests/api/tus_clients.rs.

usage: tuspy_client.py ENDPOINT TOKEN FILE COMMAND [URL]
  start     create the upload, print its URL, then upload in 256 KiB chunks (the test kills it)
  resume    resume URL from the offset the server answers, print "done"
  corrupt   upload with a checksum that does not match, print the status tus refused it with
  terminate create, send one chunk, terminate (tuspy has no call for it), print the statuses
  signed    upload to the signed tus URL (TOKEN is "-": no credential at all), print "done"
"""

import hashlib
import os
import sys

import requests
from tusclient import client
from tusclient.exceptions import TusUploadFailed
from tusclient.uploader import Uploader

endpoint, token, path, command = sys.argv[1:5]
headers = {} if token == "-" else {"Authorization": f"Bearer {token}"}
tus = client.TusClient(endpoint, headers=headers)
metadata = {"filename": "tuspy/" + os.path.basename(path), "filetype": "application/octet-stream"}


def say(line):
    print(line, flush=True)


if command == "start":
    uploader = tus.uploader(path, chunk_size=256 * 1024, metadata=metadata, upload_checksum=True)
    uploader.set_url(uploader.create_url())
    say(uploader.url)
    uploader.upload()
    say("finished before it was killed")
elif command == "resume":
    uploader = tus.uploader(path, url=sys.argv[5], chunk_size=4 * 1024 * 1024, upload_checksum=True)
    say(f"resuming at {uploader.offset}")
    uploader.upload()
    say("done")
elif command == "corrupt":

    class Corrupting(Uploader):
        # A digest of other bytes than those sent: what a flipped bit in transit looks like.
        CHECKSUM_ALGORITHM_PAIR = ("sha1", lambda chunk: hashlib.sha1(chunk + b"!"))

    uploader = Corrupting(path, client=tus, metadata=metadata, upload_checksum=True)
    try:
        uploader.upload()
        say("accepted")
    except TusUploadFailed as e:
        say(f"refused {e.status_code} {uploader.url}")
elif command == "terminate":
    uploader = tus.uploader(path, chunk_size=1024, metadata=metadata)
    uploader.upload_chunk()
    # tuspy has no termination: the request tus defines for it, with its headers.
    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    deleted = requests.delete(uploader.url, headers=headers)
    head = requests.head(uploader.url, headers=headers)
    say(f"terminated {deleted.status_code} then {head.status_code}")
elif command == "signed":
    uploader = tus.uploader(path, url=sys.argv[5], chunk_size=1024 * 1024)
    uploader.upload()
    say("done")
else:
    sys.exit(f"unknown command {command}")
