// Drives stock tus-js-client (npm, installed by scripts/tus-clients.sh into
// $FILEGATE_TEST_TUS_JS) in Node against filegate, for tests/api/tus_js.rs.
//
// usage: node tus_js_client.js ENDPOINT TOKEN FILE COMMAND [ARG]
//   upload N     upload FILE with parallelUploads: N (1: one upload; more: partial uploads
//                joined by a final one), print the upload's URL, then "done"
//   start BYTES  upload in 1 MiB chunks, print the upload's URL, and exit at once (as a
//                killed client does, leaving the upload unfinished) when BYTES are stored
//   resume URL   resume URL from the offset the server answers: print "resuming at N",
//                then "done"
'use strict'

const fs = require('fs')
const path = require('path')
const tus = require(path.join(process.env.FILEGATE_TEST_TUS_JS, 'node_modules', 'tus-js-client'))

const [endpoint, token, file, command, arg] = process.argv.slice(2)
const data = fs.readFileSync(file)
const say = (line) => process.stdout.write(`${line}\n`)
const fail = (error) => {
  process.stderr.write(`tus-js-client failed: ${error}\n`)
  process.exit(1)
}

const options = {
  endpoint,
  headers: { Authorization: `Bearer ${token}` },
  metadata: { filename: `tusjs/${path.basename(file)}`, filetype: 'application/octet-stream' },
  // tus-js-client retries what may pass (423 while a lost request's lease runs out, 409).
  retryDelays: [100, 500, 1000, 2000, 5000],
  onError: fail,
}

if (command === 'upload') {
  const upload = new tus.Upload(data, {
    ...options,
    parallelUploads: Number(arg),
    onSuccess: () => {
      say(upload.url)
      say('done')
    },
  })
  upload.start()
} else if (command === 'start') {
  const stopAt = Number(arg)
  const upload = new tus.Upload(data, {
    ...options,
    chunkSize: 1024 * 1024,
    onUploadUrlAvailable: () => say(upload.url),
    onChunkComplete: (_chunk, accepted) => {
      if (accepted >= stopAt && accepted < data.length) {
        // No goodbye: what a client that is killed or loses its network leaves behind.
        process.exit(0)
      }
    },
    onSuccess: () => fail('finished before it was stopped'),
  })
  upload.start()
} else if (command === 'resume') {
  const upload = new tus.Upload(data, {
    ...options,
    uploadUrl: arg,
    chunkSize: 4 * 1024 * 1024,
    onAfterResponse: (req, res) => {
      if (req.getMethod() === 'HEAD') {
        say(`resuming at ${res.getHeader('Upload-Offset')}`)
      }
    },
    onSuccess: () => say('done'),
  })
  upload.start()
} else {
  fail(`unknown command ${command}`)
}
