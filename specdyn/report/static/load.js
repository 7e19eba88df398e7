// specdyn report: unpack Plotly and the data (gzip + base64 in the page), then start.
"use strict";
(function () {
  async function unpack(id) {
    const text = document.getElementById(id).textContent.trim();
    const chars = atob(text), bytes = new Uint8Array(chars.length);
    for (let i = 0; i < chars.length; i++) bytes[i] = chars.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }
  const times = window.specdynTimes = {};  // ms since navigation, for benchmarks
  Promise.all([unpack("plotly-js"), unpack("specdyn-data")]).then(([plotly, json]) => {
    times.unpacked = performance.now();
    const script = document.createElement("script");
    script.textContent = plotly;
    document.head.append(script);
    times.plotly = performance.now();
    const data = SD.decode(JSON.parse(json));
    times.data = performance.now();
    SD.start(data);
  }).catch((err) => {
    document.getElementById("subtitle").textContent = "this report could not be opened: " + err;
    console.error(err);
  });
})();
