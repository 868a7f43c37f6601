// Gradio would treat a click on a link as navigation; citation links instead open and
// scroll to their passage in the sources panel. Capture phase so it runs first.
document.addEventListener('click', function (event) {
  var link = event.target.closest && event.target.closest('a.rag-cite');
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  var target = document.getElementById(link.getAttribute('href').slice(1));
  if (!target) return;
  target.open = true;
  // The supporting sentence, not the passage top, is what the reader wants to see.
  (target.querySelector('mark') || target).scrollIntoView({behavior: 'smooth', block: 'center'});
  target.classList.add('rag-flash');
  setTimeout(function () { target.classList.remove('rag-flash'); }, 1500);
}, true);
