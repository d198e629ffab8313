/* Static explorers of the dlbook site (added to every page by book/_ext/dlbook_site.py).
 *
 * Each explorer block (dlbook.render.static_html) is markup plus its frames as JSON:
 *   <div class="dlbook-explorer" data-dlbook-explorer="START">
 *     <img class="dlx-img" alt="…">  <label>… <input type="range"></label> <output>  (one pair per slider)
 *     <script type="application/json" class="dlx-data">{frames, shape, values, labels}</script>
 *   </div>
 * This script finds every block on the page and wires it up: the slider positions select a frame (C order
 * over the sliders), whose PNG replaces the image; each slider's <output> and aria-valuetext show its value,
 * the alt text names the values, and data-frame records the frame shown.  It relies on no id.
 */
(function () {
  "use strict";

  function wire(root) {
    if (root.dlbookExplorer) return;  // already wired
    var holder = root.querySelector("script.dlx-data");
    var img = root.querySelector("img.dlx-img");
    if (!holder || !img) return;
    var d = JSON.parse(holder.textContent);
    var alt = img.getAttribute("alt");
    var ins = root.querySelectorAll("input[type=range]");
    var outs = root.querySelectorAll("output");
    var start = root.getAttribute("data-dlbook-explorer");

    function frame() {
      var idx = 0;
      for (var k = 0; k < ins.length; k++) idx = idx * d.shape[k] + parseInt(ins[k].value, 10);
      return idx;
    }

    function show() {
      var desc = [];
      for (var k = 0; k < ins.length; k++) {
        var v = d.values[k][parseInt(ins[k].value, 10)];
        outs[k].textContent = v;
        ins[k].setAttribute("aria-valuetext", v);
        desc.push(d.labels[k] + " = " + v);
      }
      var idx = frame();
      img.src = "data:image/png;base64," + d.frames[idx];
      img.alt = alt + " (" + desc.join(", ") + ")";
      root.setAttribute("data-frame", String(idx));
    }

    for (var k = 0; k < ins.length; k++) ins[k].addEventListener("input", show);
    root.dlbookExplorer = true;
    // The page starts on the default frame; a browser that restored other slider positions gets their frame.
    if (String(frame()) !== start) show();
    else root.setAttribute("data-frame", start);
  }

  function wireAll() {
    var blocks = document.querySelectorAll(".dlbook-explorer");
    for (var i = 0; i < blocks.length; i++) wire(blocks[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wireAll);
  else wireAll();
})();
