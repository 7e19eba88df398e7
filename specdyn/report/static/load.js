// specdyn report: unpack Plotly and the data (gzip + base64 in the page), then start.
"use strict";
(function () {
  async function unpack(id) {
    const text = document.getElementById(id).textContent.trim();
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }
  Promise.all([unpack("plotly-js"), unpack("specdyn-data")]).then(([plotly, json]) => {
    const script = document.createElement("script");
    script.textContent = plotly;
    document.head.append(script);
    SD.start(SD.decode(JSON.parse(json)));
  }).catch((err) => {
    document.getElementById("subtitle").textContent = "this report could not be opened: " + err;
    console.error(err);
  });
})();
