// reset: back to 0 for the next open-day slot.
document.getElementById('reset').addEventListener('click', () => {
  count = 0;
  render();
});

// baton:features
