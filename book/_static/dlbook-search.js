/* Chinese search for the dlbook site (added by book/_ext/dlbook_site.py, before Sphinx's searchtools.js).
 *
 * Sphinx indexes Chinese text as words cut by jieba, but splits a query only at spaces and punctuation, so
 * a query such as "梯度下降的学习率" is one unknown word and finds nothing.  This splitQuery (Sphinx uses a
 * global splitQuery when one exists) cuts each run of Chinese characters into the longest words the
 * index knows, left to right; characters that start no indexed word are dropped, as single characters are
 * from the index itself.  Queries with no Chinese are split exactly as Sphinx does.
 */
var splitQuery = function (query) {
  var HAN = /\p{Script=Han}/u;
  var MAX_WORD = 8;
  var words = query.split(/[^\p{Letter}\p{Number}_\p{Emoji_Presentation}]+/gu).filter(function (t) { return t; });
  var index = (typeof Search !== "undefined" && Search._index) || null;
  if (!index) return words;
  var known = function (w) {
    return Object.prototype.hasOwnProperty.call(index.terms, w) ||
      Object.prototype.hasOwnProperty.call(index.titleterms, w);
  };
  var out = [];
  words.forEach(function (word) {
    if (!HAN.test(word) || known(word)) { out.push(word); return; }
    var chars = Array.from(word);
    var i = 0;
    while (i < chars.length) {
      var found = 0;
      for (var n = Math.min(MAX_WORD, chars.length - i); n >= 2; n--) {
        if (known(chars.slice(i, i + n).join(""))) { found = n; break; }
      }
      if (found) { out.push(chars.slice(i, i + found).join("")); i += found; }
      else if (!HAN.test(chars[i])) {  // a run of Latin letters or digits inside the query: keep it whole
        var j = i;
        while (j < chars.length && !HAN.test(chars[j])) j++;
        out.push(chars.slice(i, j).join("")); i = j;
      } else { i += 1; }
    }
  });
  return out.length ? out : words;
};
