// step-size: the Step drop-down sets how much each click on + adds.
const stepSelect = document.getElementById('step');
let step = Number(stepSelect.value) || 1;

stepSelect.addEventListener('change', () => {
  step = Number(stepSelect.value) || 1;
});

// baton:features
