/* ReDoc's sidebar footer ("API docs by Redocly") shows a logo it loads from
 * cdn.redoc.ly, which no option turns off. Pages of this site load nothing
 * from other hosts, so the logo's address is swapped for our own icon when
 * ReDoc sets an image's source (as an attribute or as the property); nothing
 * else is touched. Loaded before ReDoc's bundle.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var local = script && script.dataset.logo;
  if (!local) { return; }

  function swap(value) {
    return String(value).indexOf("https://cdn.redoc.ly/") === 0 ? local : value;
  }

  var setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (name === "src" && this instanceof HTMLImageElement) { value = swap(value); }
    return setAttribute.call(this, name, value);
  };
  var src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    enumerable: src.enumerable,
    get: src.get,
    set: function (value) { src.set.call(this, swap(value)); }
  });
}());
